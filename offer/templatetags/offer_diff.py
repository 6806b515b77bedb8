"""{% previous_version doc as prev %}: the published version of the same kind before `doc`."""

from django import template

from ..models import LegalDocument

register = template.Library()


@register.simple_tag
def previous_version(document):
    return (LegalDocument.objects.filter(kind=document.kind, status=LegalDocument.Status.PUBLISHED)
            .filter(effective_date__lte=document.effective_date).exclude(pk=document.pk)
            .exclude(effective_date=document.effective_date, published_at__gt=document.published_at)
            .order_by("-effective_date", "-published_at", "-id").first())
