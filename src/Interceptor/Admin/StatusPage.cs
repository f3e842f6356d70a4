using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;

namespace Updraft.Interceptor.Admin;

/// <summary>
/// The admin port's status page (<c>/</c>, <c>/status</c>): one server-rendered HTML document with inline CSS and a
/// small inline script that polls <c>/status.json</c> every second and redraws with <c>textContent</c> only. Every value
/// that comes from routes is HTML-encoded here and never parsed as HTML by the script. The Content-Security-Policy
/// allows exactly this page's style and script (by hash) and fetches from the same origin; nothing external.
/// </summary>
internal static class StatusPage
{
    /// <summary>How often the page's script fetches a new snapshot.</summary>
    public const int RefreshMilliseconds = 1000;

    /// <summary>Columns of the routes table: the cell's class and its label (also shown on narrow screens).</summary>
    public static readonly (string Class, string Label)[] Columns =
    [
        ("key", "Route"), ("hosts", "Hosts"), ("paths", "Paths"), ("target", "Target"), ("ready", "Ready"),
        ("inflight", "In flight"), ("held", "Held"), ("rate", "Req/s"), ("requests", "Requests"),
        ("coldstart", "Last cold start"), ("rejected", "Overflow rejections"),
    ];

    public const string Style = """
        :root{color-scheme:light dark;--line:#8884;--warn:#b45309;--bad:#b91c1c;--good:#15803d}
        *{box-sizing:border-box}
        body{margin:0;padding:1rem;font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
        h1{font-size:1.3rem;margin:0 0 .25rem}
        #updated{margin:0 0 1rem;opacity:.75;font-size:.9rem}
        body.stale #updated{color:var(--bad);opacity:1}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 1rem}
        dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
        ul{margin:.2rem 0 0;padding-left:1.2rem}
        form{display:flex;gap:.5rem;margin:0 0 .5rem}
        input{flex:1;min-width:0;font:inherit;padding:.4rem}
        button{font:inherit;padding:.4rem .8rem}
        #summary{margin:.25rem 0 .75rem}
        nav a{margin-right:1rem}
        table{border-collapse:collapse;width:100%}
        th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
        td.key,td.hosts,td.paths{overflow-wrap:anywhere}
        td.inflight,td.held,td.rate,td.requests,td.rejected{text-align:right;font-variant-numeric:tabular-nums}
        .is-ready{color:var(--good)}.is-not-ready,.no{color:var(--bad);font-weight:600}.is-unknown{color:var(--warn)}
        td.held.busy{color:var(--warn);font-weight:600}
        @media (max-width:760px){
          thead{display:none}
          table,tbody,tr,td{display:block;width:100%}
          tr{border:1px solid var(--line);border-radius:6px;margin:0 0 .75rem;padding:.25rem 0}
          td{border:0;padding:.15rem .6rem;text-align:left!important}
          td::before{content:attr(data-label) ": ";font-weight:600}
        }
        """;

    public const string Script = """
        (function () {
          'use strict';
          var body = document.body;
          var filter = document.getElementById('filter');
          var rows = document.getElementById('rows');
          var offset = Number(body.getAttribute('data-offset')) || 0;
          var limit = Number(body.getAttribute('data-limit')) || 100;
          var every = Number(body.getAttribute('data-refresh')) || 1000;
          var labels = [];
          document.querySelectorAll('thead th').forEach(function (th) { labels.push([th.getAttribute('data-column'), th.textContent]); });
          var refreshes = 0, timer = 0, busy = false, again = false;

          function seconds(s) {
            if (s < 10) return s.toFixed(2) + ' s';
            if (s < 60) return s.toFixed(1) + ' s';
            if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.floor(s % 60) + ' s';
            return Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min';
          }
          function set(id, text, cls) {
            var el = document.getElementById(id);
            el.textContent = text;
            if (cls !== undefined) el.className = cls;
          }
          function list(values, more) { return values.join(' ') + (more > 0 ? ' +' + more + ' more' : ''); }
          function query(at) {
            var q = new URLSearchParams();
            if (filter.value) q.set('filter', filter.value);
            if (at > 0) q.set('offset', String(at));
            if (limit !== 100) q.set('limit', String(limit));
            var text = q.toString();
            return text ? '?' + text : '';
          }
          function coldStart(c) { return c ? seconds(c.seconds) + ', ' + seconds(c.agoSeconds) + ' ago' : 'none'; }
          function row(r) {
            var tr = document.createElement('tr');
            tr.setAttribute('data-key', r.key);
            var values = {
              key: r.key, hosts: list(r.hosts, r.moreHosts), paths: list(r.paths, r.morePaths), target: r.target,
              ready: r.readiness.replace('-', ' '), inflight: String(r.inFlight), held: String(r.held),
              rate: r.ratePerSecond === null ? '\u2014' : r.ratePerSecond.toFixed(1), requests: String(r.requests),
              coldstart: coldStart(r.lastColdStart), rejected: String(r.overflowRejections)
            };
            labels.forEach(function (column) {
              var td = document.createElement('td');
              td.className = column[0] + (column[0] === 'ready' ? ' is-' + r.readiness : '') + (column[0] === 'held' && r.held > 0 ? ' busy' : '');
              td.setAttribute('data-label', column[1]);
              td.textContent = values[column[0]];
              tr.appendChild(td);
            });
            return tr;
          }
          function render(d) {
            var i = d.interceptor, t = i.routeTable, s = i.source, page = d.routes;
            set('mode', i.mode);
            set('ready', i.ready ? 'yes' : 'no', i.ready ? '' : 'no');
            set('draining', i.draining ? 'yes' : 'no', i.draining ? 'no' : '');
            set('table', 'version ' + t.version + ', ' + t.routes + ' routes' + (t.ageSeconds === null ? '' : ', in use for ' + seconds(t.ageSeconds)));
            set('source', s ? s.kind + ': ' + (s.healthy ? 'healthy' : 'unhealthy') : 'not started', s && !s.healthy ? 'no' : '');
            var details = document.getElementById('source-details');
            var items = [];
            if (s) {
              s.details.forEach(function (line) { items.push(line); });
              s.watches.forEach(function (w) { items.push(w.resource + ': ' + (w.synced ? 'synced' : 'not synced') + ', lists ' + w.lists + ', failures ' + w.failures); });
            }
            details.replaceChildren.apply(details, items.map(function (text) { var li = document.createElement('li'); li.textContent = text; return li; }));
            var local = d.localReplicas, workloads = document.getElementById('local-workloads');
            if (local && workloads) {
              set('local-feed', local.summary, local.connected ? '' : 'no');
              var lines = local.workloads.map(function (w) { return w.line; });
              if (local.moreWorkloads > 0) lines.push('+' + local.moreWorkloads + ' more workloads');
              workloads.replaceChildren.apply(workloads, lines.map(function (text) { var li = document.createElement('li'); li.textContent = text; return li; }));
              var events = document.getElementById('local-events');
              events.replaceChildren.apply(events, local.events.map(function (text) { var li = document.createElement('li'); li.textContent = text; return li; }));
            }
            rows.replaceChildren.apply(rows, page.items.map(row));
            var first = page.items.length ? page.offset + 1 : 0;
            set('summary', 'Routes ' + first + '\u2013' + (page.offset + page.items.length) + ' of ' + page.matched +
              (page.filter ? ' matching \u201c' + page.filter + '\u201d' : '') + ' (' + t.routes + ' in all)' + (page.more > 0 ? '; ' + page.more + ' more' : ''));
            var prev = document.getElementById('prev'), next = document.getElementById('next');
            prev.hidden = page.offset <= 0;
            prev.href = query(Math.max(0, page.offset - page.limit)) || '?';
            next.hidden = page.more <= 0;
            next.href = query(page.offset + page.limit);
            refreshes++;
            body.setAttribute('data-refreshes', String(refreshes));
            body.classList.remove('stale');
            set('updated', 'Updated ' + new Date(i.generatedAt).toLocaleTimeString() + ', every ' + every / 1000 + ' s');
          }
          function refresh() {
            if (busy) { again = true; return; }
            busy = true;
            clearTimeout(timer);
            fetch('/status.json' + query(offset), { cache: 'no-store' })
              .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
              .then(render, function (e) { body.classList.add('stale'); set('updated', 'Not updated: ' + e.message); })
              .then(function () {
                busy = false;
                if (again) { again = false; refresh(); } else { timer = setTimeout(refresh, every); }
              });
          }
          filter.addEventListener('input', function () { offset = 0; history.replaceState(null, '', location.pathname + query(0)); refresh(); });
          document.getElementById('filter-form').addEventListener('submit', function (e) { e.preventDefault(); offset = 0; refresh(); });
          timer = setTimeout(refresh, every);
        })();
        """;

    /// <summary>The page's headers: only its own inline style and script (by hash), fetches to the same origin only.</summary>
    public static readonly string ContentSecurityPolicy =
        $"default-src 'none'; style-src '{Hash(Style)}'; script-src '{Hash(Script)}'; connect-src 'self'; img-src data:; " +
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    /// <summary>For <c>/status.json</c>: nothing may run or load in it.</summary>
    public const string JsonContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'";

    private static readonly HtmlEncoder Encoder = HtmlEncoder.Default;

    public static string Render(StatusView view)
    {
        var status = view.Interceptor;
        var html = new StringBuilder(4096 + (view.Routes.Count * 600));
        html.Append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
            .Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
            .Append("<link rel=\"icon\" href=\"data:,\"><title>Updraft interceptor status</title><style>")
            .Append(Style)
            .Append("</style></head>\n<body data-offset=\"").Append(view.Query.Offset.ToString(CultureInfo.InvariantCulture))
            .Append("\" data-limit=\"").Append(view.Query.Limit.ToString(CultureInfo.InvariantCulture))
            .Append("\" data-refresh=\"").Append(RefreshMilliseconds.ToString(CultureInfo.InvariantCulture))
            .Append("\" data-refreshes=\"0\">\n<h1>Updraft interceptor</h1><p id=\"updated\">As of ")
            .Append(Encode(status.GeneratedAt.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture)))
            .Append("</p>\n<dl>");
        Term(html, "Mode", "mode", status.Mode, "");
        Term(html, "Ready", "ready", status.Ready ? "yes" : "no", status.Ready ? "" : "no");
        Term(html, "Draining", "draining", status.Draining ? "yes" : "no", status.Draining ? "no" : "");
        var table = $"version {status.TableVersion.ToString(CultureInfo.InvariantCulture)}, {status.RouteCount.ToString(CultureInfo.InvariantCulture)} routes"
            + (status.TableAge is { } age ? ", in use for " + Seconds(age.TotalSeconds) : "");
        Term(html, "Route table", "table", table, "");
        var source = status.Source;
        Term(html, "Route source", "source", source is null ? "not started" : source.Kind + ": " + (source.Healthy ? "healthy" : "unhealthy"), source is { Healthy: false } ? "no" : "");
        html.Append("<dt></dt><dd><ul id=\"source-details\">");
        if (source is not null)
        {
            foreach (var line in source.Details)
            {
                html.Append("<li>").Append(Encode(line)).Append("</li>");
            }

            foreach (var watch in source.Watches)
            {
                html.Append("<li>").Append(Encode($"{watch.Resource}: {(watch.Synced ? "synced" : "not synced")}, lists {watch.Lists.ToString(CultureInfo.InvariantCulture)}, failures {watch.Failures.ToString(CultureInfo.InvariantCulture)}")).Append("</li>");
            }
        }

        html.Append("</ul></dd>");
        if (status.Local is { } local)
        {
            Term(html, "Local replicas", "local-feed", local.FeedLine(), local.Connected ? "" : "no");
            html.Append("<dt></dt><dd><ul id=\"local-workloads\">");
            foreach (var workload in local.Workloads)
            {
                html.Append("<li>").Append(Encode(workload.Line())).Append("</li>");
            }

            if (local.MoreWorkloads > 0)
            {
                html.Append("<li>").Append(Encode("+" + local.MoreWorkloads.ToString(CultureInfo.InvariantCulture) + " more workloads")).Append("</li>");
            }

            html.Append("</ul></dd>");
            html.Append("<dt>Replica events</dt><dd><ul id=\"local-events\">");
            foreach (var line in local.Events)
            {
                html.Append("<li>").Append(Encode(line)).Append("</li>");
            }

            html.Append("</ul></dd>");
        }

        html.Append("</dl>\n<form id=\"filter-form\" method=\"get\" action=\"\"><input type=\"search\" id=\"filter\" name=\"filter\" maxlength=\"")
            .Append(StatusQuery.MaxFilterLength.ToString(CultureInfo.InvariantCulture))
            .Append("\" placeholder=\"Filter: name, host, path or target\" aria-label=\"Filter routes\" value=\"")
            .Append(Encode(view.Query.Filter)).Append("\"><button type=\"submit\">Filter</button></form>\n<p id=\"summary\">")
            .Append(Encode(Summary(view))).Append("</p>\n<nav>");
        var more = Math.Max(0, view.Matched - view.Query.Offset - view.Routes.Count);
        html.Append("<a id=\"prev\" href=\"").Append(Encode(Link(view.Query, Math.Max(0, view.Query.Offset - view.Query.Limit)))).Append('"')
            .Append(view.Query.Offset > 0 ? "" : " hidden").Append(">\u2190 previous</a>")
            .Append("<a id=\"next\" href=\"").Append(Encode(Link(view.Query, view.Query.Offset + view.Query.Limit))).Append('"')
            .Append(more > 0 ? "" : " hidden").Append(">next \u2192</a></nav>\n<table><thead><tr>");
        foreach (var (column, label) in Columns)
        {
            html.Append("<th data-column=\"").Append(column).Append("\">").Append(Encode(label)).Append("</th>");
        }

        html.Append("</tr></thead>\n<tbody id=\"rows\">");
        foreach (var route in view.Routes)
        {
            Row(html, route, status.GeneratedAt);
        }

        html.Append("</tbody></table>\n<script>").Append(Script).Append("</script>\n</body></html>\n");
        return html.ToString();
    }

    /// <summary>HTML-encodes text for element content and quoted attribute values.</summary>
    public static string Encode(string text) => Encoder.Encode(text);

    private static void Row(StringBuilder html, RouteStatus route, DateTimeOffset now)
    {
        html.Append("<tr data-key=\"").Append(Encode(route.Key)).Append("\">");
        foreach (var (column, label) in Columns)
        {
            var (text, extra) = column switch
            {
                "key" => (route.Key, ""),
                "hosts" => (List(route.Hosts, route.MoreHosts), ""),
                "paths" => (List(route.Paths, route.MorePaths), ""),
                "target" => (route.Target, ""),
                "ready" => (route.Readiness.Replace('-', ' '), " is-" + route.Readiness),
                "inflight" => (Number(route.InFlight), ""),
                "held" => (Number(route.Held), route.Held > 0 ? " busy" : ""),
                "rate" => (route.RatePerSecond is { } rate ? rate.ToString("0.0", CultureInfo.InvariantCulture) : "\u2014", ""),
                "requests" => (Number(route.Requests), ""),
                "coldstart" => (route.LastColdStart is { } c ? Seconds(c.Duration.TotalSeconds) + ", " + Seconds(Math.Max(0, (now - c.ReadyAt).TotalSeconds)) + " ago" : "none", ""),
                _ => (Number(route.OverflowRejections), ""),
            };
            html.Append("<td class=\"").Append(column).Append(extra).Append("\" data-label=\"").Append(Encode(label)).Append("\">")
                .Append(Encode(text)).Append("</td>");
        }

        html.Append("</tr>\n");
    }

    private static void Term(StringBuilder html, string label, string id, string value, string cssClass)
    {
        html.Append("<dt>").Append(Encode(label)).Append("</dt><dd id=\"").Append(id).Append('"');
        if (cssClass.Length > 0)
        {
            html.Append(" class=\"").Append(cssClass).Append('"');
        }

        html.Append('>').Append(Encode(value)).Append("</dd>");
    }

    private static string Summary(StatusView view)
    {
        var first = view.Routes.Count > 0 ? view.Query.Offset + 1 : 0;
        var more = Math.Max(0, view.Matched - view.Query.Offset - view.Routes.Count);
        return string.Create(CultureInfo.InvariantCulture, $"Routes {first}\u2013{view.Query.Offset + view.Routes.Count} of {view.Matched}")
            + (view.Query.Filter.Length > 0 ? " matching \u201c" + view.Query.Filter + "\u201d" : "")
            + string.Create(CultureInfo.InvariantCulture, $" ({view.Interceptor.RouteCount} in all)")
            + (more > 0 ? string.Create(CultureInfo.InvariantCulture, $"; {more} more") : "");
    }

    private static string Link(StatusQuery query, int offset)
    {
        var parts = new List<string>(3);
        if (query.Filter.Length > 0)
        {
            parts.Add("filter=" + Uri.EscapeDataString(query.Filter));
        }

        if (offset > 0)
        {
            parts.Add("offset=" + offset.ToString(CultureInfo.InvariantCulture));
        }

        if (query.Limit != StatusQuery.DefaultLimit)
        {
            parts.Add("limit=" + query.Limit.ToString(CultureInfo.InvariantCulture));
        }

        return "?" + string.Join('&', parts);
    }

    private static string List(IReadOnlyList<string> values, int more) =>
        string.Join(' ', values) + (more > 0 ? " +" + more.ToString(CultureInfo.InvariantCulture) + " more" : "");

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The same wording as the script's <c>seconds()</c>.</summary>
    public static string Seconds(double s) => s switch
    {
        < 10 => s.ToString("0.00", CultureInfo.InvariantCulture) + " s",
        < 60 => s.ToString("0.0", CultureInfo.InvariantCulture) + " s",
        < 3600 => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(s / 60)} min {Math.Floor(s % 60)} s"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Math.Floor(s / 3600)} h {Math.Floor(s % 3600 / 60)} min"),
    };

    private static string Hash(string inline) => "sha256-" + Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(inline)));
}
