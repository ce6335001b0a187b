"""`flask alliance follow-up`: the alliance's daily follow-up of signed MoUs (jobs/schedule.py runs it)."""
import click
from flask.cli import AppGroup

from marketplace.alliance import tracking

alliance_cli = AppGroup("alliance", help="The cooperative alliance's follow-up of agreements.")


@alliance_cli.command("follow-up")
def follow_up_command():
    """Recompute every signed MoU's tracking status, email the alliance a digest and each party its reminders
    (daily; a second run the same day sends nothing)."""
    result = tracking.follow_up()
    if result.skipped:
        click.echo("The follow-up already ran today: nothing sent.")
        return
    click.echo(f"{len(result.changed)} status change(s), {result.digest_count} MoU(s) in the digest, "
               f"{result.reminder_count} reminder(s) sent.")
