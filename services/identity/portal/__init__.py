"""The national public-service portal's SSO (Cổng DVC quốc gia), WSO2-like, at ``/oauth2``.

Agencies register as OIDC clients of the portal; the portal federates the login to the VNeID
realm (``realm.py``) as a broker and issues its own codes and tokens (domain §5.6 item 2).
"""

from sim06.services.identity.portal.routes import install_portal

__all__ = ["install_portal"]
