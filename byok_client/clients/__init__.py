"""The SDK subclasses, one module per SDK; imported lazily by ``byok_client``."""
