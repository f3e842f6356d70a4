using System.Text;
using Updraft.Shared.Hosting;

namespace Updraft.Shared.Routes;

/// <summary>
/// One thing wrong with a route object: which document (1-based, in a routes file), which object and which field.
/// Rendered as one line, for example
/// <c>routes.yaml: document 2 (InterceptorRoute shop/checkout): spec.target: exactly one of 'port' or 'portName' must be set</c>.
/// </summary>
public sealed record RouteProblem(int? Document, string? Kind, string? ObjectName, string Field, string Message)
{
    public string Format(string? source = null)
    {
        var builder = new StringBuilder();
        if (source is not null)
        {
            builder.Append(source).Append(": ");
        }

        if (Document is not null)
        {
            builder.Append("document ").Append(Document.Value);
            if (Kind is not null || ObjectName is not null)
            {
                builder.Append(" (").Append(Kind ?? "?").Append(' ').Append(ObjectName ?? "?").Append(')');
            }

            builder.Append(": ");
        }
        else if (Kind is not null || ObjectName is not null)
        {
            builder.Append(Kind ?? "?").Append(' ').Append(ObjectName ?? "?").Append(": ");
        }

        if (Field.Length > 0)
        {
            builder.Append(Field).Append(": ");
        }

        // Values are quoted as written: a control character or line separator in one must not break the line.
        return OneLine.Escape(builder.Append(Message).ToString());
    }

    public override string ToString() => Format();
}

/// <summary>Collects problems for one object, prefixing each with the object's identity.</summary>
public sealed class RouteProblemCollector(int? document, string? kind, string? objectName)
{
    private readonly List<RouteProblem> _problems = [];

    public string? ObjectName { get; set; } = objectName;

    public IReadOnlyList<RouteProblem> Problems => _problems;

    public bool HasProblems => _problems.Count > 0;

    public void Add(string field, string message) => _problems.Add(new RouteProblem(document, kind, ObjectName, field, message));
}
