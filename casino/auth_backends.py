from axes.backends import AxesStandaloneBackend


class OperatorLockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for logins that come with a request (the admin's).
    ``authenticate()`` without one (the test client's ``login()``, scripts) has no
    client to count or lock; axes would raise, so it is passed on to the next
    backend unchecked."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
