"""The web portal (学分银行门户): server-rendered pages over the same services as /api/v1."""

from api.portal.app import mount_portal

__all__ = ["mount_portal"]
