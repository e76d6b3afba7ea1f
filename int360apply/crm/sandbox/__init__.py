"""The sandbox CRM: a real HTTP server implementing ``schemas/crm-api.openapi.yaml``.

``server`` runs it (``start_background``, ``run_serve``), ``app`` is the Flask
app, ``store`` its SQLite storage, ``patching`` the merge-patch and validation
rules, ``faults`` the fault injection used to test clients.
"""
