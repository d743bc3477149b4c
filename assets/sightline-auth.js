/* Sightline console: log out (POST /logout with the CSRF header), and back to the login form
   when the session has ended (a callback answered 401). No secrets are read except the CSRF
   cookie, which exists to be sent back. */
(function () {
    "use strict";

    function csrfToken() {
        var m = document.cookie.match(/(?:^|;\s*)_csrf_token=([^;]*)/);
        return m ? decodeURIComponent(m[1]) : "";
    }

    function toLogin() {
        var here = window.location.pathname + window.location.search;
        window.location.assign("/login?next=" + encodeURIComponent(here));
    }

    document.addEventListener("click", function (event) {
        var button = event.target && event.target.closest
            ? event.target.closest("[data-sl-logout]") : null;
        if (!button) {
            return;
        }
        event.preventDefault();
        button.disabled = true;
        window.fetch("/logout", {
            method: "POST",
            credentials: "same-origin",
            headers: {"X-CSRFToken": csrfToken()}
        }).finally(function () { window.location.assign("/login"); });
    });

    var plainFetch = window.fetch;
    window.fetch = function () {
        return plainFetch.apply(this, arguments).then(function (response) {
            if (response.status === 401 && response.url.indexOf("/_dash-") !== -1) {
                toLogin();
            }
            return response;
        });
    };
}());
