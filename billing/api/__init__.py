"""REST API v1 (issue 6): Bearer API keys, JSON under ``/api/v1/``, OpenAPI at ``/api/schema/``.

Views are thin: they check who is asking, validate input with serializers and filter sets, and
call the billing services (writes) and selectors (reads). See README.md, "REST API".
"""
