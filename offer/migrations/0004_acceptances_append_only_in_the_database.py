from django.db import migrations

from soldee.append_only_sql import guard

forwards, backwards = guard("offer_acceptance", "offer_accepteddocument")


class Migration(migrations.Migration):
    dependencies = [("offer", "0003_accepted_document_names"), ("soldee", "0004_events_append_only_in_the_database")]

    operations = [migrations.RunPython(forwards, backwards)]
