"""What a person runs against Postmark after the first week: reconcile (``sync``), reactivate,
lift and suppress (``remote``), retention (``retention``), forget an address (``forget``) and
webhook setup (``webhook_setup``). The management commands and the admin both call these."""
