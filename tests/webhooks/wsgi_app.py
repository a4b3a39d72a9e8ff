"""The test project as a WSGI application, for the transport tests' gunicorn."""

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
settings.POSTMARK_WEBHOOK_MAX_BYTES = int(os.environ["WEBHOOK_MAX_BYTES"])
