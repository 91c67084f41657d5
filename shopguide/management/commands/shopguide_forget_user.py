"""Delete everything shopguide stored about one customer (a data-deletion request)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from shopguide.services.privacy import forget_user


class Command(BaseCommand):
    help = (
        "Delete a customer's events, vectors, segment labels and predicted segments. The account "
        "stays unless --delete-account is given (deleting it removes the same data by cascade)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="the customer's username (the user model's USERNAME_FIELD)")
        parser.add_argument("--delete-account", action="store_true", help="delete the user account as well")

    def handle(self, *args, username: str, delete_account: bool, **options):
        User = get_user_model()
        user = User._default_manager.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"There is no customer {username!r} ({User.USERNAME_FIELD}).")
        counts = forget_user(user)
        summary = ", ".join(f"{n} {kind}" for kind, n in counts.items())
        if delete_account:
            user.delete()
            self.stdout.write(f"Deleted {summary} and the account {username!r}.")
        else:
            self.stdout.write(f"Deleted {summary} of {username!r}; the account stays.")
