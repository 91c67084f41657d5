/* shopguide widgets: records a click on a recommended product as an event (widget, model
   version, product), so recommendations can be judged by what customers actually follow.
   No dependencies. The request never delays or blocks the navigation: it is sent with
   keepalive, which lets it finish after the page has been left. */
(function () {
  "use strict";
  if (window.shopguideWidgets) {
    return; // included twice on one page: listen once
  }

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) {
        return decodeURIComponent(parts[i].slice(eq + 1));
      }
    }
    return "";
  }

  function clickEvent(widget, item) {
    var version = parseInt(widget.getAttribute("data-shopguide-version"), 10);
    return {
      type: "click",
      product: item.getAttribute("data-product-id"),
      widget: widget.getAttribute("data-shopguide-widget") || "",
      model_version: isNaN(version) ? null : version
    };
  }

  function send(widget, item) {
    var url = widget.getAttribute("data-shopguide-events-url");
    if (!url || !window.fetch) {
      return;
    }
    var headers = { "Content-Type": "application/json" };
    // Django checks CSRF on a logged-in customer's POST; a guest's needs no token.
    var token = readCookie(widget.getAttribute("data-shopguide-csrf-cookie") || "csrftoken");
    if (token) {
      headers["X-CSRFToken"] = token;
    }
    try {
      window.fetch(url, {
        method: "POST",
        headers: headers,
        body: JSON.stringify(clickEvent(widget, item)),
        credentials: "same-origin",
        keepalive: true
      }).catch(function () {}); // losing one click is better than bothering the customer
    } catch (error) {
      // old browsers without keepalive: no event, the link still works
    }
  }

  function onClick(event) {
    if (!event.target || !event.target.closest) {
      return;
    }
    var link = event.target.closest("[data-shopguide-widget] a[href]");
    var item = link && link.closest("[data-product-id]");
    if (!item) {
      return;
    }
    send(item.closest("[data-shopguide-widget]"), item);
  }

  document.addEventListener("click", onClick);
  // Middle-click (open in a new tab) is a click on the recommendation too.
  document.addEventListener("auxclick", function (event) {
    if (event.button === 1) {
      onClick(event);
    }
  });
  window.shopguideWidgets = { send: send, clickEvent: clickEvent };
})();
