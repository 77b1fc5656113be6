// Log in: the API sets the HttpOnly session cookie; then go where the user was heading.
import { api, ApiError, bindLanguageSwitch, t, translate } from "./console.js";

const form = document.getElementById("login");
const error = document.getElementById("login-error");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  try {
    await api("/auth/session", { method: "POST", form: new FormData(form) });
  } catch (e) {
    error.textContent = e instanceof ApiError && e.status === 401 ? t("login.failed") : e.message;
    error.hidden = false;
    return;
  }
  const next = new URLSearchParams(location.search).get("next") || "";
  location.assign(next.startsWith("/console/") ? next : "/console/alerts");
});

bindLanguageSwitch();
translate();
