"""Images uploaded in the admin: checked by their bytes, served from this site."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from lessons_app.models import UploadedImage
from lessons_app.rendering import refused_images, render_markdown
from lessons_app.uploaded_images import MAX_IMAGE_BYTES

pytestmark = pytest.mark.django_db

# The smallest valid PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
ADD = reverse("admin:lessons_app_uploadedimage_add")


def upload(admin_client, content: bytes, filename: str, content_type: str, name: str = ""):
    file = SimpleUploadedFile(filename, content, content_type=content_type)
    return admin_client.post(ADD, {"file": file, "name": name})


def test_staff_upload_an_image_that_articles_then_show_from_this_site(admin_client, client):
    response = upload(admin_client, PNG, "My leaf (1).png", "image/png")
    assert response.status_code == 302
    image = UploadedImage.objects.get()
    assert (image.name, image.content_type) == ("My-leaf-1-.png", "image/png")
    url = image.get_absolute_url()
    assert url == f"/images/{image.pk}/My-leaf-1-.png"

    served = client.get(url)
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert served.content == PNG
    assert client.get(f"/images/{image.pk}/other.png").status_code == 404

    listing = admin_client.get(reverse("admin:lessons_app_uploadedimage_changelist"))
    assert f"![Describe the image]({url})" in listing.content.decode()
    markdown = f"![A leaf]({url})"
    assert f'<img src="{url}" alt="A leaf">' in render_markdown(markdown, allow_images=True)
    assert refused_images(markdown) == []


@pytest.mark.parametrize(
    ("content", "filename", "content_type", "error"),
    [
        (SVG, "x.svg", "image/svg+xml", "SVG is not taken: it can hold script"),
        (b"<html><script>alert(1)</script>", "x.png", "image/png", "is not a PNG, JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * MAX_IMAGE_BYTES, "big.png", "image/png", "at most 5 MB"),
    ],
)
def test_anything_but_a_raster_image_of_a_sane_size_is_refused(
    admin_client, content, filename, content_type, error
):
    response = upload(admin_client, content, filename, content_type)
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not UploadedImage.objects.exists()


def test_the_type_served_is_the_one_the_bytes_say(admin_client, client):
    upload(admin_client, PNG, "leaf.jpg", "image/jpeg", name="leaf.jpg")
    image = UploadedImage.objects.get()
    assert client.get(image.get_absolute_url())["Content-Type"] == "image/png"
