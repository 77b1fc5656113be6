"""predict: see the open issues; nothing here yet."""
