"""Import one date's official NBK rates, from the feed or from a saved answer (--file):
for back-filling and for checking the parser against real answers."""

from datetime import date, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from billing import exchange, nbk


def _date(value: str) -> date:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise CommandError(f"Not a date: {value!r} (use YYYY-MM-DD or DD.MM.YYYY)")


class Command(BaseCommand):
    help = "Import the National Bank of Kazakhstan's official rates of one date (offered currencies only)."

    def add_arguments(self, parser):
        parser.add_argument("--date", help="YYYY-MM-DD or DD.MM.YYYY; default: today (Almaty), or the "
                                           "file's own date with --file")
        parser.add_argument("--file", help="a saved get_rates.cfm answer to import instead of calling the feed")
        parser.add_argument("--allow-jump", action="store_true",
                            help="accept a move over EXCHANGE_RATE_MAX_JUMP (needs --reason)")
        parser.add_argument("--reason", default="", help="why a jump is accepted (recorded in the event)")

    def handle(self, *args, **options):
        requested = _date(options["date"]) if options["date"] else None
        if options["allow_jump"] and not options["reason"].strip():
            raise CommandError("--allow-jump needs --reason")
        try:
            if options["file"]:
                path = Path(options["file"])
                if not path.is_file():
                    raise CommandError(f"No such file: {path}")
                answer = nbk.parse(path.read_bytes())
                if requested and answer.rate_date and answer.rate_date != requested:
                    raise CommandError(f"Refused: the file holds the rates of {answer.rate_date:%d.%m.%Y}, "
                                       f"not of {requested:%d.%m.%Y}.")
            else:
                requested = requested or timezone.localdate()
                self.stdout.write(f"Asking the National Bank feed for {requested:%d.%m.%Y} …")
                answer = nbk.get_rates(requested)
            result = exchange.rates_import(answer=answer, requested=requested,
                                           allow_jump=options["allow_jump"], reason=options["reason"])
        except nbk.FeedUnavailable as exc:
            raise CommandError(f"Feed unavailable: {exc}")
        except nbk.FeedMalformed as exc:
            raise CommandError(f"Refused, the answer is malformed: {exc}")
        except exchange.ImportRefused as exc:
            raise CommandError(f"Refused: {exc}")
        style = self.style.WARNING if (result.no_data or result.missing) else self.style.SUCCESS
        self.stdout.write(style(result.summary() or "Nothing to import."))
