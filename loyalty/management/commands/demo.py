import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from members.models import Member

DEMO_ADMIN = "admin"


class Command(BaseCommand):
    help = (
        "Start the zero-setup demo: migrate, generate members with histories (first run only), "
        "reset the admin login and print it, then serve on http://127.0.0.1:8000."
    )

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--no-server", action="store_true", help="Prepare everything but do not serve.")
        parser.add_argument("--addrport", default="127.0.0.1:8000")

    def handle(self, *args, members, seed, no_server, addrport, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not Member.objects.exists():
            self.stdout.write(f"Generating {members} demo members (seed {seed})...")
            call_command("generate_demo_data", members=members, seed=seed)
        call_command("loyalty_audit", limit=5)
        password = secrets.token_urlsafe(9)
        admin, _ = get_user_model().objects.get_or_create(username=DEMO_ADMIN)
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo ready. Admin: http://{addrport}/admin/  user: {DEMO_ADMIN}  password: {password}\n"
                "(a new password is printed each time the demo starts)\n"
            )
        )
        if not no_server:
            call_command("runserver", addrport, use_reloader=False)
