"""The edge agent: reads a car through an ELM327 adapter with python-OBD, buffers on disk, publishes over MQTT."""

__version__ = "0.1.0"
