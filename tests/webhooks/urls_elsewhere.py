"""URLconfs for the W001 tests: a project that never mounted the webhooks, and one that mounted
them under a namespace and a path of its own."""

from django.urls import include, path

without_webhooks: list[object] = []
namespaced = [path("hooks/pm/", include(("postmark.urls", "pm"), namespace="pm"))]
