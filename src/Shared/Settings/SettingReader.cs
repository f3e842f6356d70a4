using System.Globalization;
using Updraft.Shared.Durations;

namespace Updraft.Shared.Settings;

/// <summary>
/// Reads flat environment-style settings (the add-on's variable names) and collects one message per bad value,
/// naming the variable and the allowed form, so start-up can report them all at once.
/// </summary>
/// <param name="lookup">Returns the raw value of a variable, or null when it is not set.</param>
/// <param name="problems">Receives one line per invalid value.</param>
public readonly struct SettingReader(Func<string, string?> lookup, List<string> problems)
{
    public string? Text(string name) => lookup(name) is { Length: > 0 } value && value.Trim() is { Length: > 0 } trimmed ? trimmed : null;

    /// <summary>A listener address (<see cref="BindAddressSetting"/>); <paramref name="fallback"/> when unset or invalid.</summary>
    public string BindAddress(string name, string fallback)
    {
        var text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        if (BindAddressSetting.IsValid(text))
        {
            return text;
        }

        problems.Add($"{name}=\"{text}\" is not valid; {BindAddressSetting.AllowedForm}");
        return fallback;
    }

    public int Port(string name, int fallback)
    {
        var text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 0 and <= 65535)
        {
            return port;
        }

        problems.Add($"{name}=\"{text}\" is not a valid port; use a number from 1 to 65535, or 0 to pick a free port");
        return fallback;
    }

    public int Number(string name, int fallback, int minimum)
    {
        var text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= minimum)
        {
            return value;
        }

        problems.Add($"{name}=\"{text}\" is not valid; use a whole number, {minimum} or more");
        return fallback;
    }

    /// <param name="minimum">The smallest allowed value (zero allowed when it is zero).</param>
    public TimeSpan Duration(string name, TimeSpan fallback, TimeSpan minimum = default)
    {
        var text = Text(name);
        if (text is null)
        {
            return fallback;
        }

        if (GoDuration.TryParse(text, out var value) && value >= minimum)
        {
            return value;
        }

        problems.Add(minimum > TimeSpan.Zero
            ? $"{name}=\"{text}\" is not valid; use {GoDuration.AllowedForm}, at least {GoDuration.Format(minimum)}"
            : $"{name}=\"{text}\" is not valid; use {GoDuration.AllowedForm}");
        return fallback;
    }

    /// <summary>Go's <c>strconv.ParseBool</c>, which the add-on's settings use.</summary>
    public bool Boolean(string name, bool fallback)
    {
        var text = Text(name);
        switch (text)
        {
            case null:
                return fallback;
            case "1" or "t" or "T" or "true" or "TRUE" or "True":
                return true;
            case "0" or "f" or "F" or "false" or "FALSE" or "False":
                return false;
            default:
                problems.Add($"{name}=\"{text}\" is not valid; use true or false");
                return fallback;
        }
    }
}
