"""SMTP mail whose headers are never folded.

Python before 3.12.4 (gh-92081) drops a space when it folds a long non-ASCII header into
encoded words and the fold falls on that space: a Kazakh receipt's subject reached
customers as "… сомасындағытөлем алынды". An unfolded header line is well within SMTP's
998-character limit, so this backend writes the message with the SMTP policy at that
length; the message itself is Django's."""

import email.policy
import smtplib

from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend

POLICY = email.policy.SMTP.clone(max_line_length=998)


def wire_bytes(email_message) -> bytes:
    """The message as it goes to the SMTP server."""
    return email_message.message(policy=POLICY).as_bytes()


class EmailBackend(DjangoSMTPBackend):
    def _send(self, email_message):
        if not email_message.recipients():
            return False
        from_email = self.prep_address(email_message.from_email)
        recipients = [self.prep_address(addr) for addr in email_message.recipients()]
        try:
            self.connection.sendmail(from_email, recipients, wire_bytes(email_message))
        except smtplib.SMTPException:
            if not self.fail_silently:
                raise
            return False
        return True
