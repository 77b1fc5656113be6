"""The service manager console: server-rendered page shells and small scripts that call `/api/v1`."""
