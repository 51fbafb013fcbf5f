"""The metrics socket: protocol, server, and the files it writes."""
