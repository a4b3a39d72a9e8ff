"""Postmark's API as this app and its sandbox rely on it: ``spec`` (limits, error codes, bounce
types, the default stream, the test token) and ``timestamps`` (the forms its dates arrive in).
Nothing here imports from the rest of the package, so the sandbox can use it too."""
