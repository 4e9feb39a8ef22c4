from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from billing import selectors


@login_required
def dashboard(request):
    applications = selectors.applications_for_user(user=request.user)
    return render(request, "portal/dashboard.html", {"applications": applications})
