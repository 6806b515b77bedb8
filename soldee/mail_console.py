"""The embedded mode's mail: each message printed readably on the console.

Django's console backend prints the wire form, where a Russian or Kazakh body is base64
and a long English line is quoted-printable: the e-mail-confirmation link of a sign-up
cannot be read off the terminal, as the README says it can. This one prints the
headers and every text part decoded, then the attachments by name."""

from email import message_from_bytes, policy

from django.core.mail.backends.console import EmailBackend as ConsoleBackend


class EmailBackend(ConsoleBackend):
    def write_message(self, message):
        parsed = message_from_bytes(message.message().as_bytes(), policy=policy.default)
        lines = [f"{name}: {parsed[name]}" for name in ("From", "To", "Cc", "Subject", "Date") if parsed[name]]
        for part in parsed.walk():
            if part.is_multipart():
                continue
            if part.get_content_disposition() == "attachment" or part.get_content_maintype() != "text":
                lines.append(f"[attachment: {part.get_filename() or part.get_content_type()}]")
            elif part.get_content_subtype() == "plain":
                lines += ["", part.get_content().rstrip("\n")]
        self.stream.write("\n".join(lines) + "\n" + "-" * 79 + "\n")
