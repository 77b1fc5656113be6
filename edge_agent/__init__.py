"""edge_agent: see the open issues; nothing here yet."""
