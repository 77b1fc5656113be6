"""pitcall: telematics and predictive maintenance for car dealerships."""

__version__ = "0.1.0"
