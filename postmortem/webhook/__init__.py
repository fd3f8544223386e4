"""The incident webhook receiver: verify, store durably, then emit `incident.closed` to Prefect.

`postmortem webhook` serves `app.create_app`; docs/webhooks.md describes the endpoints and their schemes.
"""
