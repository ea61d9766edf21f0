"""Django's admin app, with the project's own site as ``admin.site``."""

from django.contrib.admin.apps import AdminConfig


class TutorAdminConfig(AdminConfig):
    """Installed in place of ``django.contrib.admin``.

    Every ``@admin.register`` and ``admin.site`` in the apps then means the
    project's site, so its extra pages need no patching of Django's.
    """

    default_site = "tutor_project.admin.TutorAdminSite"
