"""WebSocket URL routes, gathered from the apps that serve them."""

from lessons_app.routing import websocket_urlpatterns as lessons_websocket_urlpatterns

websocket_urlpatterns = [*lessons_websocket_urlpatterns]
