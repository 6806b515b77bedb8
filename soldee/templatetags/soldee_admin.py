from django import template
from django.utils.text import capfirst
from django.utils.translation import gettext

from soldee import model_names

register = template.Library()


@register.simple_tag(takes_context=True)
def changelist_title(context, cl) -> str:
    """Django's change-list title ("Select %s to change", ChangeList.__init__) with the
    model's name in the accusative ("Выберите подписку для просмотра"), starting with a
    capital where the language puts the name first (Kazakh popup: "Төлем таңдаңыз")."""
    if cl.is_popup:
        title = gettext("Select %s")
    elif cl.model_admin.has_change_permission(context["request"]):
        title = gettext("Select %s to change")
    else:
        title = gettext("Select %s to view")
    return capfirst(title % model_names.accusative(cl.opts))


@register.simple_tag
def counted(opts, count) -> str:
    """ "5 платежей", "3 жазылым" (soldee.model_names)."""
    return model_names.counted(opts, count)


@register.simple_tag
def select_all(opts, count) -> str:
    """ "Select all 150 users": "Выбрать все: 150 пользователей" (soldee.model_names)."""
    return model_names.select_all(opts, count)


@register.simple_tag
def all_selected(opts, count) -> str:
    """ "All 150 selected": "Выбраны все: 150 пользователей" (soldee.model_names)."""
    return model_names.all_selected(opts, count)


@register.simple_tag
def add_title(opts) -> str:
    """ "Add group": "Добавить группу" (Django's "Добавить группа"), "Топ қосу"."""
    return model_names.add_title(opts)


@register.simple_tag
def search_heading(opts) -> str:
    """ "Search users": "Искать пользователей" (Django's "Искать пользователи")."""
    return model_names.search_heading(opts)


@register.simple_tag
def cannot_delete(opts, count=1) -> str:
    """ "Cannot delete group": "Не удается удалить группу"."""
    return model_names.cannot_delete(opts, count)


@register.simple_tag
def delete_one(opts, which, obj) -> str:
    """The single-object delete page's sentences (soldee.model_names.DELETE_ONE)."""
    return model_names.delete_one(opts, which, obj)


@register.simple_tag
def delete_selected(opts, which, count) -> str:
    """The delete action's confirmation page's sentences (soldee.model_names.delete_selected)."""
    return model_names.delete_selected(opts, which, count)


@register.simple_tag
def summary_line(model_name, count) -> str:
    """A delete page's summary line: "3 исключения производственного календаря"."""
    return model_names.summary_line(model_name, count)
