"""bondedzone: the customs e-account books, inventory lists and ledger of a smart comprehensive bonded zone."""

__version__ = "0.1.0"
