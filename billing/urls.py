from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("webhooks/<slug:gateway_name>/", views.webhook, name="webhook"),
    path("payments/<uuid:public_id>/return/", views.payment_return, name="return"),
    path("payments/<uuid:public_id>/continue/", views.payment_continue, name="continue"),
    path("sandbox-gateway/pay/<uuid:txn_id>/", views.sandbox_page, name="sandbox_page"),
    path("documents/<slug:number>/pdf/", views.document_pdf, name="document_pdf"),
    path("invoices/new/", views.invoice_create, name="invoice_create"),
]
