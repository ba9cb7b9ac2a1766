import io
import logging
import secrets

from celery import beat
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import BaseCommand

from config.celery import app as celery_app
from loyalty import extensions
from loyalty.models import StorefrontAPIKey
from loyalty.services.jobs import run_job_now
from loyalty.services.storefronts import create_api_key, revoke_api_key
from members.models import Member

DEMO_ADMIN = "admin"
DEMO_APPROVER = "finance"  # a second person, to approve adjustments above the limit (maker-checker)
DEMO_STOREFRONT = "demo shop"


class Command(BaseCommand):
    help = (
        "Start the zero-setup demo: migrate, generate members with histories and run the scheduled jobs "
        "(first run only), print an admin login and an API key, then serve on http://127.0.0.1:8000 with Celery "
        "beat running the schedules in the same process."
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
            for job in extensions.jobs.names():
                run = run_job_now(job=job)
                self.stdout.write(f"Ran {job}: {run.members_changed} members changed, {run.entries_written} entries.")
            for step in extensions.demo_steps:
                step.run(self.stdout, seed)
        call_command("loyalty_audit", limit=5)
        password = self._reset_admin()
        approver_password = self._reset_approver()
        key = self._fresh_api_key()
        example = Member.objects.order_by("-growth_value").values_list("external_id", flat=True).first()
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo ready.\n"
                f"  Admin:    http://{addrport}/admin/   user: {DEMO_ADMIN}   password: {password}\n"
                f"  Approver: user: {DEMO_APPROVER}   password: {approver_password}   (the Finance role)\n"
                f"  API docs: http://{addrport}/api/docs/\n"
                f"  API key:  {key}\n"
                f'  Try:      curl -H "Authorization: Api-Key {key}" http://{addrport}/api/v1/members/{example}/\n'
                "(a new password and API key are made each time the demo starts)\n"
            )
        )
        call_command("setup_schedules", stdout=io.StringIO())
        if not no_server:
            self._start_beat()
            call_command("runserver", addrport, use_reloader=False)

    @staticmethod
    def _start_beat() -> None:
        """No Celery worker or Redis in the demo: beat runs as a thread of this process, and as tasks
        run eagerly here (no REDIS_URL), what it starts runs in that thread — the nightly and monthly
        jobs, the dashboard refresh, the outbox relay and pruning, on the schedules setup_schedules
        made (editable under System > Periodic tasks)."""
        celery_app.loader.import_default_modules()
        for chatty in ("celery.beat", "celery.app.trace"):  # a line every few seconds for the relay
            logging.getLogger(chatty).setLevel(logging.WARNING)
        beat.EmbeddedService(celery_app, thread=True, scheduler_cls=celery_app.conf.beat_scheduler).start()

    def _reset_admin(self) -> str:
        password = secrets.token_urlsafe(9)
        admin, _ = get_user_model().objects.get_or_create(username=DEMO_ADMIN)
        admin.is_staff = admin.is_superuser = True
        admin.set_password(password)
        admin.save()
        return password

    def _reset_approver(self) -> str:
        password = secrets.token_urlsafe(9)
        approver, _ = get_user_model().objects.get_or_create(username=DEMO_APPROVER)
        approver.is_staff = True
        approver.set_password(password)
        approver.save()
        approver.groups.add(Group.objects.get(name="Finance"))
        return password

    def _fresh_api_key(self) -> str:
        old = StorefrontAPIKey.objects.filter(storefront__name=DEMO_STOREFRONT, revoked=False)
        for prefix in old.values_list("prefix", flat=True):
            revoke_api_key(prefix=prefix)
        return create_api_key(storefront_name=DEMO_STOREFRONT)[1]
