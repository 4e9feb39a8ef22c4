"""Demo data for ``manage.py seed_demo``: the plans (``plans``) and the usage they make
(``usage``)."""
