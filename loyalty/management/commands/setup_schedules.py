from django.core.management.base import BaseCommand
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from loyalty import extensions
from loyalty.models import ProgramSettings

DASHBOARD_REFRESH_MINUTES = 5
OUTBOX_RELAY_SECONDS = 5


class Command(BaseCommand):
    help = "Create or update the Celery beat schedules of the scheduled jobs (idempotent; edit them in the admin)."

    def handle(self, *args, **options):
        zone = ProgramSettings.current().timezone
        for job, scheduled in extensions.jobs.items():
            if scheduled.schedule is None:
                continue
            when = scheduled.schedule
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=when.minute,
                hour=when.hour,
                day_of_month=when.day_of_month,
                month_of_year="*",
                day_of_week="*",
                timezone=zone,
            )
            task, created = PeriodicTask.objects.get_or_create(
                name=f"loyalty: {job}",
                defaults={"task": "loyalty.run_scheduled_job", "crontab": crontab, "args": f'["{job}"]'},
            )
            if not created and task.crontab_id is None:
                task.crontab = crontab
                task.save(update_fields=["crontab"])
            self.stdout.write(f"{'Created' if created else 'Kept'} schedule {task.name}: {task.crontab}")
            if task.crontab and str(task.crontab.timezone) != zone:
                self.stdout.write(
                    self.style.WARNING(
                        f"  {task.name} runs in {task.crontab.timezone}, the program in {zone}: "
                        "edit its crontab in the admin if the program's time zone changed."
                    )
                )
        self._dashboard_refresh()
        self._outbox(zone)
        for name, entry in extensions.interval_tasks.items():
            every, _ = IntervalSchedule.objects.get_or_create(every=entry.seconds, period=IntervalSchedule.SECONDS)
            task, created = PeriodicTask.objects.get_or_create(
                name=name, defaults={"task": entry.task, "interval": every}
            )
            self.stdout.write(f"{'Created' if created else 'Kept'} schedule {task.name}: {task.interval}")

    def _outbox(self, zone: str) -> None:
        every, _ = IntervalSchedule.objects.get_or_create(every=OUTBOX_RELAY_SECONDS, period=IntervalSchedule.SECONDS)
        relay, created = PeriodicTask.objects.get_or_create(
            name="outbox: relay domain events", defaults={"task": "loyalty.relay_outbox", "interval": every}
        )
        self.stdout.write(f"{'Created' if created else 'Kept'} schedule {relay.name}: {relay.interval}")
        nightly, _ = CrontabSchedule.objects.get_or_create(
            minute="30", hour="2", day_of_month="*", month_of_year="*", day_of_week="*", timezone=zone
        )
        prune, created = PeriodicTask.objects.get_or_create(
            name="outbox: prune delivered events", defaults={"task": "loyalty.prune_outbox", "crontab": nightly}
        )
        self.stdout.write(f"{'Created' if created else 'Kept'} schedule {prune.name}: {prune.crontab}")

    def _dashboard_refresh(self):
        every, _ = IntervalSchedule.objects.get_or_create(
            every=DASHBOARD_REFRESH_MINUTES, period=IntervalSchedule.MINUTES
        )
        task, created = PeriodicTask.objects.get_or_create(
            name="dashboard: refresh figures", defaults={"task": "loyalty.refresh_dashboard", "interval": every}
        )
        self.stdout.write(f"{'Created' if created else 'Kept'} schedule {task.name}: {task.interval}")
