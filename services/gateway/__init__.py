"""Data-sharing gateway (NDXP/LGSP mock): agency auth, purpose-bound policies, signed
responses, hash-chained audit log and the citizen access log."""
