"""The action framework of the finance admin: an action is a form page that calls one service
and reports with ``message_user``."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from billing.errors import BillingError


class ActionViewsMixin:
    """Object actions as admin views: GET shows the form, POST calls the service; a
    ``BillingError`` is shown on the field it names and nothing is written."""

    action_template = "admin/billing/action_form.html"
    object_actions: dict[str, dict] = {}

    def _action_view(self, request, object_id, *, action: str, perm: str, form_class, perform):
        obj = get_object_or_404(self.get_queryset(request), pk=object_id)
        if not request.user.has_perm(perm):
            raise PermissionDenied
        spec = self.object_actions[action]
        form = form_class(
            request.POST if request.method == "POST" else None,
            initial=spec.get("initial", lambda o: {})(obj),
        )
        if request.method == "POST" and form.is_valid():
            try:
                message = perform(request, obj, form.cleaned_data)
            except BillingError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse(
                        f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk]
                    )
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": f"{spec['label']}: {obj}",
            "form": form,
            "action_label": spec["label"],
            "action_help": spec.get("help", ""),
            "summary": self.action_summary(obj),
        }
        return TemplateResponse(request, self.action_template, context)

    def action_summary(self, obj) -> list[tuple[str, object]]:
        return []

    def available_actions(self, request, obj) -> list[dict]:
        out = []
        for name, spec in self.object_actions.items():
            if request.user.has_perm(spec["perm"]) and spec["when"](obj):
                url = reverse(
                    f"admin:{obj._meta.app_label}_{obj._meta.model_name}_{name}", args=[obj.pk]
                )
                out.append({"url": url, "label": spec["label"]})
        return out

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["object_actions"] = self.available_actions(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        info = self.model._meta.app_label, self.model._meta.model_name
        extra = [
            path(
                f"<int:object_id>/{name.replace('_', '-')}/",
                self.admin_site.admin_view(getattr(self, f"{name}_view")),
                name=f"{info[0]}_{info[1]}_{name}",
            )
            for name in self.object_actions
        ]
        return extra + super().get_urls()
