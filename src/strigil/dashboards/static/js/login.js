import { api } from "./common.js";

const form = document.getElementById("login");
const message = document.getElementById("message");
const HOME = { admin: "/", therapist: "/", researcher: "/research" };

// Where to go after logging in: `next` resolved against this origin, and kept only if it stays
// here ("/\\host", "/\thost" or "//host" resolve to another host and are refused).
function sameOriginPath(next) {
  if (!next) return null;
  try {
    const url = new URL(next, location.origin);
    return url.origin === location.origin ? url.pathname + url.search + url.hash : null;
  } catch {
    return null;
  }
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  message.replaceChildren();
  const data = Object.fromEntries(new FormData(form));
  try {
    const r = await api("/auth/login", { method: "POST", body: data });
    const next = sameOriginPath(new URLSearchParams(location.search).get("next"));
    location.href = next || HOME[r.role] || "/";
  } catch (err) {
    const box = document.createElement("div");
    box.className = "error";
    box.setAttribute("role", "alert");
    box.textContent =
      err.status === 401 ? "Wrong username or password." : err.message || "Log-in failed.";
    message.append(box);
  }
});
