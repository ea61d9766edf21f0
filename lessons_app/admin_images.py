"""Uploading images for articles in the admin, and the markdown that shows each."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from lessons_app.models import UploadedImage
from lessons_app.uploaded_images import address_name, read_upload


class UploadedImageForm(forms.ModelForm):
    file = forms.FileField(
        label="Image file",
        help_text="PNG, JPEG, GIF or WebP, up to 5 MB. Articles show it from this site, so "
        "it loads for every learner and tells no other site who reads the lesson.",
    )

    class Meta:
        model = UploadedImage
        fields = ["file", "name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        self.fields["name"].help_text = "Empty: the file's own name."
        if self.instance.pk:
            self.fields["file"].required = False

    def clean(self) -> dict:
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload:
            try:
                self.instance.data, self.instance.content_type = read_upload(upload)
            except ValidationError as exc:
                self.add_error("file", exc)
        cleaned["name"] = address_name(cleaned.get("name") or (upload.name if upload else ""))
        return cleaned


@admin.register(UploadedImage)
class UploadedImageAdmin(admin.ModelAdmin):
    form = UploadedImageForm
    list_display = ["name", "thumbnail", "markdown", "content_type", "uploaded_at"]
    readonly_fields = ["thumbnail", "markdown"]
    search_fields = ["name"]

    @admin.display(description="Image")
    def thumbnail(self, image: UploadedImage) -> SafeString | str:
        if not image.pk:
            return "—"
        return format_html('<img src="{}" alt="" height="48">', image.get_absolute_url())

    @admin.display(description="Markdown for an article")
    def markdown(self, image: UploadedImage) -> str:
        if not image.pk:
            return "Save the image to get its markdown."
        return f"![Describe the image]({image.get_absolute_url()})"

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # Its address is in articles: a new image is a new upload, not a changed one.
        return False
