"""Ingest: MQTT wire protocol v1 in, TimescaleDB rows out (decode → validate → batch → write → ack)."""
