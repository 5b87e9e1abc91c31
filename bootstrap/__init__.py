"""The one-time bootstrap of a Google Cloud project for the estate: state, secrets key, CI identities."""
