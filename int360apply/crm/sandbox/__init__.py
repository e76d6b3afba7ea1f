"""The sandbox CRM: a real HTTP server implementing ``schemas/crm-api.openapi.yaml``.

``server`` runs it (``start_background``, ``run_serve``) over ``listener``
(waitress: socket, threads, limits) and ``channel`` (its connections); ``app``
is the Flask app, with ``auth``, ``request_log``, ``etags``, ``request_args``,
``note_bodies``, ``staging`` (the ``/_sandbox`` routes), ``api_error`` and
``error_responses``; ``store`` its SQLite queries, with ``db_schema``,
``connections``, ``records`` and ``rows``; ``patching`` the merge-patch and
validation rules, ``faults`` the fault injection used to test clients.
"""
