"""Create the three role groups (config.roles). Permissions are enforced in the API by role name; the
groups also get Django model permissions so the admin site shows each role what it may do."""

from django.db import migrations

APPS = ("designer", "scripts_app", "runs", "authtoken")


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=APPS)
    admin, _ = Group.objects.get_or_create(name="admin")
    admin.permissions.set(Permission.objects.all())
    editor, _ = Group.objects.get_or_create(name="editor")
    editor.permissions.set(ours.exclude(content_type__app_label="authtoken"))
    viewer, _ = Group.objects.get_or_create(name="viewer")
    viewer.permissions.set(ours.filter(codename__startswith="view_"))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["admin", "editor", "viewer"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("designer", "0001_initial"),
        ("scripts_app", "0001_initial"),
        ("runs", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("authtoken", "0004_alter_tokenproxy_options"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
