import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from accounts.models import CustomerProfile
from plans.models import Plan

# Valid Kazakhstan numbers (the control digit checks out).
VALID_IIN = "900101300017"
VALID_BIN = "971240001315"  # a valid BIN that is not STG LLP's own (the form refuses that one)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"customer{n}@example.kz")
    language = "en"

    @factory.post_generation
    def password(self, create, extracted, **kwargs):
        self.set_password(extracted or "correct-horse-battery-9")
        if create:
            self.save()
            EmailAddress.objects.get_or_create(user=self, email=self.email, defaults={"verified": True, "primary": True})


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerProfile

    user = factory.SubFactory(UserFactory)
    kind = CustomerProfile.Kind.INDIVIDUAL
    name = factory.Sequence(lambda n: f"Customer {n}")
    iin_bin = VALID_IIN
    address = "Almaty, Abay ave. 1"
    phone = "+7 701 000 00 00"
    is_resident = True
    country = "KZ"


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"plan{n}")
    name = factory.Sequence(lambda n: f"Plan {n}")
    price_minor = 2_990_000
