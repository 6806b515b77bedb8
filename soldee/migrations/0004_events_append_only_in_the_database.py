from django.db import migrations

from soldee.append_only_sql import guard

forwards, backwards = guard("soldee_event")


class Migration(migrations.Migration):
    dependencies = [("soldee", "0003_fewer_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
