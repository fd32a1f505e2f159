"""Files in and out: WMS exports (CSV, JSON, XML) read into raw records for the domain to check."""
