// Times in the shopper's own zone: the server writes each <time datetime="..."> in UTC,
// stated as such (readable without JavaScript); this rewrites the text to the browser's
// local time and keeps the UTC text as the element's title. A file, not an inline
// script, because the Content-Security-Policy allows scripts only from this site.
(function () {
  "use strict";
  var format;
  try {
    format = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short"
    });
  } catch (error) {
    return; // no Intl: the UTC text stays
  }
  function rewrite(root) {
    var times = root.querySelectorAll("time[datetime][data-local]");
    for (var i = 0; i < times.length; i++) {
      var element = times[i];
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment.getTime())) continue;
      if (!element.title) element.title = element.textContent;
      element.textContent = format.format(moment);
      element.setAttribute("data-localised", "");
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { rewrite(document); });
  } else {
    rewrite(document);
  }
})();
