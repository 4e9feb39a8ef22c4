"""Finance reports (issue 15): receivables aging, revenue per product family, what needs
action, job runs, account statements and the accounting journal. Reads only; the admin home,
the portal's statement pages and ``export_journal`` call them."""
